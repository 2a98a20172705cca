"""Every differentiable op: a Node subclass with forward (on arrays) beside backward, then
the public function that applies it. One module per family."""
