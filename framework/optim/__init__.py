"""framework.optim: optimizers and learning-rate schedulers with torch.optim's names,
signatures, defaults and update formulas (a PyTorch training loop runs with the import changed).

    opt = framework.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = framework.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for x, y in loader:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    sched.step()
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
