int two_x(void)
{
    return 2;
}
