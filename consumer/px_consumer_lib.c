/* placeholder so the library has a member until the modules land */
#include "px_store.h"
