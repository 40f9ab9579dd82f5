# Mistake: the lecture's random.seed(123) at module level. Under fork each child is
# re-seeded by multiprocessing, but under spawn every child imports the module again,
# seeds again, and draws the same string as its siblings.
import multiprocessing as mp
import random
import string

random.seed(123)


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for x in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for p in processes]
    for p in processes:
        p.join()
    return results
