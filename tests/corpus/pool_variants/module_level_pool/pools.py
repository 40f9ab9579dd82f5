# Mistake: one module-level Pool created at import time (as on the slides), shared by all functions and never closed.
import multiprocessing as mp


pool = mp.Pool(processes=3)


def square(x):
    return x * x


def cube(x):
    return x ** 3


def pool_apply(func, items, processes=4):
    results = [pool.apply(func, args=(x,)) for x in items]
    return results


def pool_map(func, items, processes=4):
    results = pool.map(func, items)
    return results


def pool_apply_async(func, items, processes=4):
    results = [pool.apply_async(func, args=(x,)) for x in items]
    output = [p.get() for p in results]
    return output


def pool_map_async(func, items, processes=4):
    results = pool.map_async(func, items)
    output = results.get()
    return output


def pool_imap_unordered(func, items, processes=4):
    output = list(pool.imap_unordered(func, items))
    return output
