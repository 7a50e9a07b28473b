# Seed tutorial, "Customize optimizer supported by PyTorch": Adam instead of SGD.
optimizer = dict(type='Adam', lr=0.0003, weight_decay=0.0001)
