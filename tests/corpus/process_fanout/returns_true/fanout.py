# Mistake: rand_string returns True "to say it worked". A child's return value goes
# nowhere; the exercise asks for a function that returns nothing (None).
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    rand_str = ''.join(random.choice(string.ascii_letters + string.digits)
                       for i in range(length))
    output.put(rand_str)
    return True


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
