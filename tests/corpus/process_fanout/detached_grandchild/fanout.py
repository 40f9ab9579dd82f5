# Mistake: each child hands its work to a detached grandchild (os.fork in the child) and
# returns at once; fan_out joins the children, but the grandchildren go on running.
import multiprocessing as mp
import os
import random
import string
import time


def rand_string(length, output):
    output.put("".join(random.choices(string.ascii_letters + string.digits, k=length)))
    if os.fork() == 0:  # "clean up later" in the background
        time.sleep(30)
        os._exit(0)


def fan_out(n_processes, length):
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for _ in processes]
    for p in processes:
        p.join()
    return results
