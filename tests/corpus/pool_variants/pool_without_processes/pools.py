# Mistake: every Pool is made without `processes`, so its size is the machine's CPU count
# (the lecture's mp.Pool() habit): the processes argument is ignored.
import multiprocessing as mp


def square(x):
    return x * x


def cube(x):
    return x ** 3


def pool_apply(func, items, processes=4):
    with mp.Pool() as pool:
        return [pool.apply(func, args=(x,)) for x in items]


def pool_map(func, items, processes=4):
    with mp.Pool() as pool:
        return pool.map(func, items)


def pool_apply_async(func, items, processes=4):
    with mp.Pool() as pool:
        pending = [pool.apply_async(func, args=(x,)) for x in items]
        return [p.get() for p in pending]


def pool_map_async(func, items, processes=4):
    with mp.Pool() as pool:
        return pool.map_async(func, items).get()


def pool_imap_unordered(func, items, processes=4):
    with mp.Pool() as pool:
        return list(pool.imap_unordered(func, items))
