# Seed tutorial, "Specify the optimizer in the config file": the original SGD.
optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
