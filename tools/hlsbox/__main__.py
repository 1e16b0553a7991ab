from hlsbox.cli import main

main()
