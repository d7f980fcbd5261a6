"""Host reads (syncs on a GPU) per training batch of a tiny digits Learner, with and without `MapDistillation` + `LayerwiseLR`.

The test the callbacks notebook takes (the part after the imports): for each map method, the reads of the 6th training
batch (past 'auto''s 4 calibration batches) with our callbacks minus those of the same Learner without them (fastai's
own: the Recorder's `to_detach(...).cpu()`), by calling line; it fails while the callbacks add one.

    python bench/syncs.py            # prints the reads added per method and where they come from
"""
from fastcore.test import test_eq
from collections import Counter
from fastai.learner import Learner
from fastai.callback.core import Callback, CancelFitException
from layerkd_nb.test_utils import tiny_dls, student_teacher, count_host_syncs
from layerkd_nb.callbacks import MapDistillation, LayerwiseLR
# --- cell source for the callbacks notebook starts here ---
class BatchReads(Callback):
    "The host reads of each training batch: `count_host_syncs` open from before every `before_batch` to after every `after_batch`; the fit stops after `n` batches"
    order = -1000
    def __init__(self, n:int=6): self.n, self.reads = n, []
    def before_batch(self):
        if self.training: self.block = count_host_syncs(); self.reads.append(self.block.__enter__())
    def close(self):
        self.block.__exit__(None, None, None)
        if len(self.reads) == self.n: raise CancelFitException()

class _CloseReads(Callback):
    order = 1000   # after every other callback's `after_batch`
    def __init__(self, opener): self.opener = opener
    def after_batch(self):
        if self.training: self.opener.close()

def reads_per_batch(cbs, n:int=6)->list:
    "One `HostSyncs` per training batch of a tiny digits Learner with callbacks `cbs(teacher)`"
    student, teacher = student_teacher()
    opener = BatchReads(n)
    learn = Learner(tiny_dls(bs=64), student, cbs=[*cbs(teacher), opener, _CloseReads(opener)])
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    return opener.reads

plain = reads_per_batch(lambda teacher: [])
for method in ('attention', 'jacobian', 'hessian'):
    # 'jacobian' defaults to weight='auto': its first 4 mapped batches read two gradient norms (`norms.tolist()`), by design; batch 5 is past them
    reads = reads_per_batch(lambda teacher: [MapDistillation(teacher, method), LayerwiseLR(every=1)])
    added = Counter(reads[-1].by_site()) - Counter(plain[-1].by_site())
    print(f"{method}: {len(plain[-1])} host reads per batch without our callbacks, {len(reads[-1])} with; added: {dict(added)}")
    if __name__ != '__main__': test_eq(dict(added), {})   # as a script: report only
