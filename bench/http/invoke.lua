-- wrk script: a trivial typed invoke (add 1 2) with the token from the
-- environment; counts non-200 answers as errors via the summary.
wrk.method = "POST"
wrk.body = '{"export":"add","args":[1,2]}'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TW_BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
