/* placeholder: being written */
#include "kraken_srtp.h"
