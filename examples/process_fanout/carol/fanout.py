"""Carol: threads are lighter, so she used threads."""
import queue
import random
import string
import threading


def rand_string(length, output):
    output.put("".join(random.choices(string.ascii_letters + string.digits, k=length)))


def fan_out(n_processes, length):
    output = queue.Queue()
    threads = [threading.Thread(target=rand_string, args=(length, output))
               for _ in range(n_processes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [output.get() for _ in threads]
