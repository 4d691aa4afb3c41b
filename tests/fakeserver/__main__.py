from tests.fakeserver.server import main

main()
