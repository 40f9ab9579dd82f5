# Mistake: starts ONE child process whose target loops and makes all the strings (no fan-out).
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    output.put(''.join(random.choices(string.ascii_letters + string.digits, k=length)))


def make_all(n, length, output):
    for i in range(n):
        rand_string(length, output)


def fan_out(n_processes, length):
    output = mp.Queue()
    p = mp.Process(target=make_all, args=(n_processes, length, output))
    p.start()
    results = [output.get() for i in range(n_processes)]
    p.join()
    return results
