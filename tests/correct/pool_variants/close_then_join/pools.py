# Correct: no `with`; every pool is closed and joined in a finally (queued work finishes).
import multiprocessing


def square(x):
    return x * x


def cube(x):
    return x * x * x


def _pool(processes):
    return multiprocessing.Pool(processes=processes)


def pool_apply(func, items, processes=4):
    pool = _pool(processes)
    try:
        return [pool.apply(func, (x,)) for x in items]
    finally:
        pool.close()
        pool.join()


def pool_map(func, items, processes=4):
    pool = _pool(processes)
    try:
        return pool.map(func, list(items))
    finally:
        pool.close()
        pool.join()


def pool_apply_async(func, items, processes=4):
    pool = _pool(processes)
    try:
        pending = [pool.apply_async(func, (x,)) for x in items]
        return [p.get() for p in pending]
    finally:
        pool.close()
        pool.join()


def pool_map_async(func, items, processes=4):
    pool = _pool(processes)
    try:
        return pool.map_async(func, list(items)).get()
    finally:
        pool.close()
        pool.join()


def pool_imap_unordered(func, items, processes=4):
    pool = _pool(processes)
    try:
        return list(pool.imap_unordered(func, items))
    finally:
        pool.close()
        pool.join()
