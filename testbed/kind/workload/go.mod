module drdrill.testbed/workload

go 1.26
