int pw_config_placeholder;
