#include "core/px_hash.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t px_seed_once = PTHREAD_ONCE_INIT;
static uint64_t px_seed;

static void px_seed_draw(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        /* no entropy yet (early boot): still differs between processes */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        s = px_hash64(&t, sizeof(t), (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&s);
    }
    px_seed = s;
}

uint64_t px_hash_seed(void)
{
    pthread_once(&px_seed_once, px_seed_draw);
    return px_seed;
}
