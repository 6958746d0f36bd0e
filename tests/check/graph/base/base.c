int base_x(void)
{
    return 0;
}
