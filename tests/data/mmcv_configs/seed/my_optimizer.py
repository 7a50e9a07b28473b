# Seed tutorial, "Specify the optimizer in the config file": your own optimizer.
# The tutorial leaves a_value, b_value and c_value to the reader; here they are numbers.
a_value = 2.0
b_value = 1
c_value = 0.5
optimizer = dict(type='MyOptimizer', a=a_value, b=b_value, c=c_value)
