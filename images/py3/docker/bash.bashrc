# /etc/bash.bashrc of dstack's py3, read by every interactive bash.
[ -z "${PS1:-}" ] && return
shopt -s checkwinsize

# The prompt names the user, the image (`dstack run-script run` sets IMAGE_NAME) and the
# folder; terminals that have a title show the image there too.
PS1='[\u in ${IMAGE_NAME:-py3}] \w\$ '
case "$TERM" in xterm*|rxvt*) PS1="\[\e]0;[ \${IMAGE_NAME:-py3} ]\a\]$PS1" ;; esac

alias ls='ls -Fh --color=auto'
alias ll='ls -l'
alias ..='cd ..'
