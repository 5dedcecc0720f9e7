-- The examples of the Compose Specification (compose-spec/compose-spec, 05-services.md at
-- commit 170098b, Apache License 2.0) for the keys lib/compose.lua reads: each as a whole
-- Compose file (a fragment goes into one service, with `image: busybox` unless it is the
-- image example). Generated from the spec's YAML blocks; regenerate when the subset grows.
return {
  {key = "command", yaml = [==[
services:
  example:
    image: busybox
    command: bundle exec thin -p 3000
]==]},
  {key = "command", yaml = [==[
services:
  example:
    image: busybox
    command: [ "bundle", "exec", "thin", "-p", "3000" ]
]==]},
  {key = "depends_on", yaml = [==[
services:
  web:
    build: .
    depends_on:
      - db
      - redis
  redis:
    image: redis
  db:
    image: postgres
]==]},
  {key = "depends_on", yaml = [==[
services:
  web:
    build: .
    depends_on:
      db:
        condition: service_healthy
        restart: true
      redis:
        condition: service_started
  redis:
    image: redis
  db:
    image: postgres
]==]},
  {key = "entrypoint", yaml = [==[
services:
  example:
    image: busybox
    entrypoint: /code/entrypoint.sh
]==]},
  {key = "entrypoint", yaml = [==[
services:
  example:
    image: busybox
    entrypoint:
      - php
      - -d
      - zend_extension=/usr/local/lib/php/extensions/no-debug-non-zts-20100525/xdebug.so
      - -d
      - memory_limit=-1
      - vendor/bin/phpunit
]==]},
  {key = "env_file", yaml = [==[
services:
  example:
    image: busybox
    env_file: .env
]==]},
  {key = "env_file", yaml = [==[
services:
  example:
    image: busybox
    env_file:
      - ./a.env
      - ./b.env
]==]},
  {key = "env_file", yaml = [==[
services:
  example:
    image: busybox
    env_file:
      - path: ./default.env
        required: true # default
      - path: ./override.env
        required: false
]==]},
  {key = "env_file", yaml = [==[
services:
  example:
    image: busybox
    env_file:
      - path: ./default.env
        format: raw
]==]},
  {key = "environment", yaml = [==[
services:
  example:
    image: busybox
    environment:
      RACK_ENV: development
      SHOW: "true"
      USER_INPUT:
]==]},
  {key = "environment", yaml = [==[
services:
  example:
    image: busybox
    environment:
      - RACK_ENV=development
      - SHOW=true
      - USER_INPUT
]==]},
  {key = "healthcheck", yaml = [==[
services:
  example:
    image: busybox
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 1m30s
      timeout: 10s
      retries: 3
      start_period: 40s
      start_interval: 5s
]==]},
  {key = "healthcheck", yaml = [==[
services:
  example:
    image: busybox
    healthcheck:
      # Hit the local web app
      test: ["CMD", "curl", "-f", "http://localhost"]
]==]},
  {key = "healthcheck", yaml = [==[
services:
  example:
    image: busybox
    healthcheck:
      test: ["CMD-SHELL", "curl -f http://localhost || exit 1"]
]==]},
  {key = "healthcheck", yaml = [==[
services:
  example:
    image: busybox
    healthcheck:
      test: curl -f https://localhost || exit 1
]==]},
  {key = "healthcheck", yaml = [==[
services:
  example:
    image: busybox
    healthcheck:
      disable: true
]==]},
  {key = "image", yaml = [==[
services:
  example:
    image: redis
]==]},
  {key = "image", yaml = [==[
services:
  example:
    image: redis:5
]==]},
  {key = "image", yaml = [==[
services:
  example:
    image: redis@sha256:0ed5d5928d4737458944eb604cc8509e245c3e19d02ad83935398bc4b991aac7
]==]},
  {key = "image", yaml = [==[
services:
  example:
    image: library/redis
]==]},
  {key = "image", yaml = [==[
services:
  example:
    image: docker.io/library/redis
]==]},
  {key = "image", yaml = [==[
services:
  example:
    image: my_private.registry:5000/redis
]==]},
  {key = "ports", yaml = [==[
services:
  example:
    image: busybox
    ports:
      - "3000"
      - "3000-3005"
      - "8000:8000"
      - "9090-9091:8080-8081"
      - "49100:22"
      - "8000-9000:80"
      - "127.0.0.1:8001:8001"
      - "127.0.0.1:5000-5010:5000-5010"
      - "::1:6000:6000"
      - "[::1]:6001:6001"
      - "6060:6060/udp"
]==]},
  {key = "ports", yaml = [==[
services:
  example:
    image: busybox
    ports:
      - name: web
        target: 80
        host_ip: 127.0.0.1
        published: "8080"
        protocol: tcp
        app_protocol: http
        mode: host

      - name: web-secured
        target: 443
        host_ip: 127.0.0.1
        published: "8083-9000"
        protocol: tcp
        app_protocol: https
        mode: host
]==]},
  {key = "tmpfs", yaml = [==[
services:
  example:
    image: busybox
    tmpfs:
     - <path>
     - <path>:<options>
]==]},
  {key = "tmpfs", yaml = [==[
services:
  app:
    tmpfs:
      - /data:mode=755,uid=1009,gid=1009
      - /run
]==]},
  {key = "volumes", yaml = [==[
services:
  backend:
    image: example/backend
    volumes:
      - type: volume
        source: db-data
        target: /data
        volume:
          nocopy: true
          subpath: sub
      - type: bind
        source: /var/run/postgres/postgres.sock
        target: /var/run/postgres/postgres.sock

volumes:
  db-data:
]==]},
}
