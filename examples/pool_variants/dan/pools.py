"""Dan: started with square and cube, the rest is not done yet."""


def square(x):
    return x * x


def cube(x):
    return x * x * x


def pool_apply(func, items, processes=4):
    raise NotImplementedError


def pool_map(func, items, processes=4):
    raise NotImplementedError


def pool_apply_async(func, items, processes=4):
    raise NotImplementedError


def pool_map_async(func, items, processes=4):
    raise NotImplementedError


def pool_imap_unordered(func, items, processes=4):
    raise NotImplementedError
