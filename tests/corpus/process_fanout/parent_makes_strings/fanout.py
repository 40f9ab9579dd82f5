# Mistake: the parent makes the strings itself and the children only put them on the queue (rand_string never runs in a child).
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    output.put(make_string(length))


def make_string(length):
    return ''.join(random.choice(string.ascii_letters + string.digits) for i in range(length))


def send(s, output):
    output.put(s)


def fan_out(n_processes, length):
    output = mp.Queue()
    processes = [mp.Process(target=send, args=(make_string(length), output))
                 for x in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for p in processes]
    for p in processes:
        p.join()
    return results
