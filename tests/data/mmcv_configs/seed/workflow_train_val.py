# Seed tutorial, "Customize workflow": a val epoch after each training epoch.
# (The tutorial shows the bare list; a config assigns it to workflow.)
workflow = [('train', 1), ('val', 1)]
