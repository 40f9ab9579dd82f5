# Mistake: random.seed(123) inside rand_string "to make it reproducible": every child then
# draws the same characters, so all the strings are the same.
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    random.seed(123)
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
