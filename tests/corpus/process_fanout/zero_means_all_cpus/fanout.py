# Mistake: treats n_processes=0 as "use every CPU" (the Pool() habit), so fan_out(0, ...)
# starts processes and returns strings instead of [].
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    output.put("".join(random.choice(string.ascii_letters + string.digits)
                       for _ in range(length)))


def fan_out(n_processes, length):
    n = n_processes or mp.cpu_count()
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output)) for _ in range(n)]
    for p in processes:
        p.start()
    results = [output.get() for _ in processes]
    for p in processes:
        p.join()
    return results
