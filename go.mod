module github.com/leadscore/leadscore

go 1.26.8
