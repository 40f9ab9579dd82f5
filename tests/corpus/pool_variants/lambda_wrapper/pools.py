# Mistake: pool_map wraps func in a lambda, which a Pool cannot pickle (fails under every start method, fork too).
import multiprocessing as mp


def square(x):
    return x * x


def cube(x):
    return x ** 3


def pool_apply(func, items, processes=4):
    with mp.Pool(processes=processes) as pool:
        results = [pool.apply(func, args=(x,)) for x in items]
    return results


def pool_map(func, items, processes=4):
    with mp.Pool(processes=processes) as pool:
        results = pool.map(lambda x: func(x), items)
    return results


def pool_apply_async(func, items, processes=4):
    with mp.Pool(processes=processes) as pool:
        results = [pool.apply_async(func, args=(x,)) for x in items]
        output = [p.get() for p in results]
    return output


def pool_map_async(func, items, processes=4):
    with mp.Pool(processes=processes) as pool:
        results = pool.map_async(func, items)
        output = results.get()
    return output


def pool_imap_unordered(func, items, processes=4):
    with mp.Pool(processes=processes) as pool:
        output = list(pool.imap_unordered(func, items))
    return output
