"""Alice: correct, closing each pool with close() + join()."""
import multiprocessing as mp


def square(x):
    return x * x


def cube(x):
    return x * x * x


def _run(processes, use):
    pool = mp.Pool(processes=processes)
    try:
        return use(pool)
    finally:
        pool.close()
        pool.join()


def pool_apply(func, items, processes=4):
    return _run(processes, lambda pool: [pool.apply(func, args=(x,)) for x in items])


def pool_map(func, items, processes=4):
    return _run(processes, lambda pool: pool.map(func, items))


def pool_apply_async(func, items, processes=4):
    def use(pool):
        pending = [pool.apply_async(func, args=(x,)) for x in items]
        return [p.get() for p in pending]
    return _run(processes, use)


def pool_map_async(func, items, processes=4):
    return _run(processes, lambda pool: pool.map_async(func, items).get())


def pool_imap_unordered(func, items, processes=4):
    return _run(processes, lambda pool: list(pool.imap_unordered(func, items)))
