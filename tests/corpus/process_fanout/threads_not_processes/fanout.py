# Mistake: uses threading.Thread and queue.Queue instead of multiprocessing.Process (threads, not processes).
import queue
import random
import string
import threading


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)


def fan_out(n_processes, length):
    output = queue.Queue()
    threads = [threading.Thread(target=rand_string, args=(length, output))
               for x in range(n_processes)]
    for t in threads:
        t.start()
    results = [output.get() for t in threads]
    for t in threads:
        t.join()
    return results
