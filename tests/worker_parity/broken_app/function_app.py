import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="x")
def mismatched(request: func.HttpRequest) -> func.HttpResponse:  # the binding is named "req"
    return func.HttpResponse("x")
