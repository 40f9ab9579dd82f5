# Mistake: no processes at all: fan_out calls rand_string itself, one after another, in the parent.
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    chars = string.ascii_letters + string.digits
    output.put(''.join(random.choices(chars, k=length)))


def fan_out(n_processes, length):
    output = mp.Queue()
    for x in range(n_processes):
        rand_string(length, output)
    results = [output.get() for x in range(n_processes)]
    return results
