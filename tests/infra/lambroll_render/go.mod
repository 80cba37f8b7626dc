module lambrollrender

go 1.19
