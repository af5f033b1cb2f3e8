/* placeholder: being written */
#include "kraken_id.h"
