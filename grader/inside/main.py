"""Entry point of a sandbox process: ``python -I -S main.py SPEC.json``.

Run by path (never imported by the grader process). Under ``spawn``/``forkserver`` the
multiprocessing children re-import this file as ``__mp_main__``, so everything below the
path set-up is behind the ``__main__`` guard.
"""

import os
import sys

# -I leaves neither the script's folder nor site-packages on sys.path: put the folder that
# holds the ``grader`` package back, so that children can unpickle the grader's probes.
_GRADER_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _GRADER_PARENT not in sys.path:
    sys.path.insert(0, _GRADER_PARENT)

if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        from grader.inside import session

        session.serve(sys.argv[2])
    else:
        from grader.inside import runner

        runner.main(sys.argv[1])
