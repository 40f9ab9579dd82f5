# Mistake: the lecture's module-level Queue, used by name inside rand_string instead of
# the queue passed in: under fork it is the parent's queue; under spawn and forkserver
# each child imports the module again and puts its string on a new queue of its own.
import multiprocessing as mp
import random
import string

output = mp.Queue()


def rand_string(length, queue):
    rand_str = "".join(random.choice(string.ascii_letters + string.digits)
                       for _ in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for _ in processes]
    for p in processes:
        p.join()
    return results
