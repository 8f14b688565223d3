#!/bin/sh
# Start the local RabbitMQ broker without systemd (CI machines and
# containers have none) and wait until it accepts connections.
# Idempotent: a broker that is already up is left alone.
set -eu
up() {
	rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1
}
if up; then
	echo "start-rabbitmq: already running"
	exit 0
fi
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
	exec sudo "$0" "$@"
fi
rabbitmq-server -detached
# The node needs a moment to register with epmd before await_startup can
# even reach it; retry until it answers, for at most two minutes.
i=0
while ! up; do
	i=$((i + 1))
	if [ $i -ge 60 ]; then
		echo "start-rabbitmq: broker did not start; see /var/log/rabbitmq" >&2
		exit 69
	fi
	sleep 2
done
echo "start-rabbitmq: up"
