# Mistake: closes every pool but never joins it: the function returns while the workers
# may still be exiting (on a busy machine they are).
import multiprocessing as mp


def square(x):
    return x * x


def cube(x):
    return x ** 3


def pool_apply(func, items, processes=4):
    pool = mp.Pool(processes=processes)
    results = [pool.apply(func, args=(x,)) for x in items]
    pool.close()
    return results


def pool_map(func, items, processes=4):
    pool = mp.Pool(processes=processes)
    results = pool.map(func, items)
    pool.close()
    return results


def pool_apply_async(func, items, processes=4):
    pool = mp.Pool(processes=processes)
    pending = [pool.apply_async(func, args=(x,)) for x in items]
    pool.close()
    return [p.get() for p in pending]


def pool_map_async(func, items, processes=4):
    pool = mp.Pool(processes=processes)
    output = pool.map_async(func, items).get()
    pool.close()
    return output


def pool_imap_unordered(func, items, processes=4):
    pool = mp.Pool(processes=processes)
    output = list(pool.imap_unordered(func, items))
    pool.close()
    return output
