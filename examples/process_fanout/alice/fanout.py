"""Alice: correct. Starts every process, drains the queue, then joins."""
import multiprocessing as mp
import random
import string

CHARS = string.ascii_letters + string.digits


def rand_string(length, output):
    output.put("".join(random.choice(CHARS) for _ in range(length)))


def fan_out(n_processes, length):
    output = mp.Queue()
    workers = []
    for _ in range(n_processes):
        worker = mp.Process(target=rand_string, args=(length, output))
        worker.start()
        workers.append(worker)
    strings = []
    while len(strings) < n_processes:
        strings.append(output.get())
    for worker in workers:
        worker.join()
    return strings
