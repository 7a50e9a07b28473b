# Seed tutorial, "Customize workflow": the default, one training epoch at a time.
workflow = [('train', 1)]
