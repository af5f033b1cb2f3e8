/* placeholder: being written */
#include "kraken_turn.h"
