"""Shell completion for bash and zsh: `pbgrade completion bash >> ~/.bashrc` (zsh: `>> ~/.zshrc`). The
script asks pbgrade itself (argcomplete's protocol), so it completes every command and flag there is."""
import argcomplete

SHELLS = ("bash", "zsh")


def add_commands(sub):
    c = sub.add_parser("completion", help="print the shell's completion script: pbgrade completion bash >> ~/.bashrc")
    c.add_argument("shell", choices=SHELLS)
    c.set_defaults(func=cmd_completion)


def cmd_completion(args):
    print(argcomplete.shellcode(["pbgrade"], shell=args.shell))
    return 0
