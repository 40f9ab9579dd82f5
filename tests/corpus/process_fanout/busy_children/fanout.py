# Mistake: rand_string waits for its string to be "unique enough" with a loop whose
# condition never changes, so every child spins forever and fan_out hangs in join().
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    chars = []
    while len(chars) < length or length == length:  # meant: until long enough
        chars.append(random.choice(string.ascii_letters + string.digits))
        chars = chars[-length:] if length else []
    output.put("".join(chars))


def fan_out(n_processes, length):
    output = mp.Queue()
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return [output.get() for _ in processes]
