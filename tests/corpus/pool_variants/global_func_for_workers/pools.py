# Mistakes: pool_map sizes its chunks with len(items), which a generator does not have;
# pool_apply_async hands func to its workers through a module global set in the parent,
# which a forked worker inherits but a spawned one (a fresh import of this module) does
# not. Grading must find the second although the first stops pool_map under every start
# method.
import multiprocessing

_func = None


def square(x):
    return x * x


def cube(x):
    return x * x * x


def _call(x):
    return _func(x)


def pool_apply(func, items, processes=4):
    with multiprocessing.Pool(processes=processes) as pool:
        return [pool.apply(func, (x,)) for x in items]


def pool_map(func, items, processes=4):
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map(func, items, chunksize=max(1, len(items) // (4 * processes)))


def pool_apply_async(func, items, processes=4):
    global _func
    _func = func
    with multiprocessing.Pool(processes=processes) as pool:
        handles = [pool.apply_async(_call, (x,)) for x in items]
        return [handle.get() for handle in handles]


def pool_map_async(func, items, processes=4):
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map_async(func, items).get()


def pool_imap_unordered(func, items, processes=4):
    with multiprocessing.Pool(processes=processes) as pool:
        return list(pool.imap_unordered(func, items))
