# Correct: a pool from a context object, stopped with terminate() (which waits for the
# workers) in a finally; results are all collected before it.
import multiprocessing as mp


def square(x):
    return x ** 2


def cube(x):
    return x ** 3


def pool_apply(func, items, processes=4):
    pool = mp.get_context().Pool(processes)
    try:
        return [pool.apply(func, args=(x,)) for x in items]
    finally:
        pool.terminate()


def pool_map(func, items, processes=4):
    pool = mp.get_context().Pool(processes)
    try:
        return pool.map(func, items)
    finally:
        pool.terminate()


def pool_apply_async(func, items, processes=4):
    pool = mp.get_context().Pool(processes)
    try:
        pending = [pool.apply_async(func, args=(x,)) for x in items]
        return [p.get() for p in pending]
    finally:
        pool.terminate()


def pool_map_async(func, items, processes=4):
    pool = mp.get_context().Pool(processes)
    try:
        return pool.map_async(func, items).get()
    finally:
        pool.terminate()


def pool_imap_unordered(func, items, processes=4):
    pool = mp.get_context().Pool(processes)
    try:
        return [r for r in pool.imap_unordered(func, items)]
    finally:
        pool.terminate()
