# Correct: a Process subclass whose run() calls rand_string; get() before join().
import multiprocessing
import random
import string


def rand_string(length, output):
    alphabet = string.ascii_letters + string.digits
    output.put("".join(random.choices(alphabet, k=length)))


class Maker(multiprocessing.Process):
    def __init__(self, length, output):
        super().__init__()
        self.length, self.output = length, output

    def run(self):
        rand_string(self.length, self.output)


def fan_out(n_processes, length):
    output = multiprocessing.Queue()
    makers = [Maker(length, output) for _ in range(n_processes)]
    for m in makers:
        m.start()
    strings = [output.get() for _ in makers]
    for m in makers:
        m.join()
    return strings
