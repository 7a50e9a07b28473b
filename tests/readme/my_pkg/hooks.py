"""README "Writing a hook": ``my_pkg.hooks.MyHook(a, b)``, as README writes it."""
from hyrun import Hook, Order


class MyHook(Hook):
    priority = Order.AVERAGE_WEIGHTS

    def __init__(self, a, b):
        self.a, self.b = a, b

    def after_train_iter(self, runner):
        if self.every_n_iters(runner, 100):
            runner.log_buffer.update({"my_value": 1.0})
