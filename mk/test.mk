# make test: placeholder, filled in below.
test: check
