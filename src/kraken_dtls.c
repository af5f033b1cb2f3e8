/* placeholder: being written */
#include "kraken_dtls.h"
