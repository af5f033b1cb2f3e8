/* placeholder: being written */
#include "kraken_sdp.h"
