/*
 * Block pools over mmap: see struct pool in base.h.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "base.h"

void
pool_init(struct pool *p, size_t size, unsigned max_free)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    p->size = (size + page - 1) / page * page;
    p->max_free = max_free;
    p->nfree = 0;
    p->free_list = NULL;
    p->in_use = 0;
}

void *
pool_get(struct pool *p)
{
    void *b = p->free_list;

    if (b != NULL) {
        p->free_list = *(void **)b;
        p->nfree--;
    } else {
        b = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            return NULL;
    }
    p->in_use++;
    return b;
}

void
pool_put(struct pool *p, void *block)
{
    if (block == NULL)
        return;
    p->in_use--;
    if (p->nfree >= p->max_free) {
        munmap(block, p->size);
        return;
    }
    *(void **)block = p->free_list;
    p->free_list = block;
    p->nfree++;
}

void
pool_fini(struct pool *p)
{
    while (p->free_list != NULL) {
        void *b = p->free_list;

        p->free_list = *(void **)b;
        munmap(b, p->size);
    }
    p->nfree = 0;
}
